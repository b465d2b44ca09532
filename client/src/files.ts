import type { Link } from './link.ts';

/**
 * File tools of a run (`run.files`): read, write, edit, list and stat without a shell, each a
 * logged, validated and snapshotted step. The harness and runner side is being built; the methods
 * land here on top of it. Until then this namespace has none.
 */
export class RunFiles {
  /** The run these files belong to. */
  readonly runId: string;
  /** How the methods will reach the harness (unused until they exist). */
  protected readonly link: Link;

  constructor(link: Link, runId: string) {
    this.link = link;
    this.runId = runId;
  }
}
