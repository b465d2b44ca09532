/** Documentation of one rule id. */
export interface RuleInfo {
  readonly id: string;
  readonly description: string;
}
/** Every rule id the chain can emit. */
export const RULE_IDS: readonly RuleInfo[] = [];
