// The typed RPC surface, derived from the generated contract (`generated.ts`, written by ts-rs
// from the Rust types; never edited by hand). Entity types are derived from `ApiCall` and
// `ApiResults` rather than imported by name, so the UI keeps compiling when the generator
// renames a struct: only the command names and field names are the contract.

import type { ApiCall as GeneratedCall, ApiResults as GeneratedResults } from './generated';

/**
 * Calls the UI already renders but the daemon's contract does not have yet (accounts sign-in).
 * Each one drops out of these types by itself as soon as the generator emits a call of the same
 * name, so the generated definition always wins. Calling one that the daemon lacks fails at run
 * time with its error ("unknown variant …"), which the UI shows as a notice.
 */
type PendingCallDefs =
  | { cmd: 'connect_account'; args: { provider: string; token?: string | null } }
  | { cmd: 'disconnect_account'; args: { provider: string } };

type PendingResultDefs = {
  connect_account: GeneratedResults extends { accounts: Array<infer A> } ? A : unknown;
  disconnect_account: GeneratedResults extends { accounts: Array<infer A> } ? A : unknown;
};

type PendingCall = Exclude<PendingCallDefs, { cmd: GeneratedCall['cmd'] }>;

/** Every call: the generated ones plus the pending ones. */
export type ApiCall = GeneratedCall | PendingCall;
/** Every result, by `cmd`. */
export type ApiResults = GeneratedResults & Omit<PendingResultDefs, keyof GeneratedResults>;

/** Every command name. */
export type Cmd = ApiCall['cmd'];

/** The `args` of a command, or `undefined` when it takes none. */
export type ArgsOf<C extends Cmd> =
  Extract<ApiCall, { cmd: C }> extends { args: infer A } ? A : undefined;

/** What a command returns. */
export type ResultOf<C extends Cmd> = C extends keyof ApiResults ? ApiResults[C] : never;

/** Commands that take arguments. */
export type CmdWithArgs = { [C in Cmd]: ArgsOf<C> extends undefined ? never : C }[Cmd];

/**
 * The parameter list of `Backend.call` for a command: no second argument when it takes none;
 * optional when every field of its args is optional (e.g. `events`), required otherwise.
 */
export type ArgsParam<C extends Cmd> =
  ArgsOf<C> extends undefined
    ? []
    : Partial<NonNullable<ArgsOf<C>>> extends NonNullable<ArgsOf<C>>
      ? [args?: ArgsOf<C>]
      : [args: ArgsOf<C>];

/** The envelope sent over either transport. */
export type Envelope<C extends Cmd = Cmd> = { cmd: C; args?: ArgsOf<C> };

/** An error answered by the daemon (or the transport), with the offending field when known. */
export class ApiError extends Error {
  readonly status: number;
  readonly field: string | null;
  constructor(message: string, status = 0, field: string | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.field = field;
  }
}

/** The user-facing text of anything thrown by a call. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === 'string') return e;
  if (e && typeof e === 'object') {
    const o = e as { error?: unknown; message?: unknown };
    if (typeof o.error === 'string') return o.error;
    if (typeof o.message === 'string') return o.message;
  }
  return String(e);
}

/** The field an error names (`{error, field}` answers), if any. */
export function fieldOf(e: unknown): string | null {
  return e instanceof ApiError ? e.field : null;
}

/** Whether an error says the command exists in the contract but not in this daemon yet. */
export function isNotAvailable(e: unknown): boolean {
  const m = errorMessage(e).toLowerCase();
  return (
    m.includes('not available') ||
    m.includes('unknown command') ||
    m.includes('unknown variant') ||
    m.includes('not implemented') ||
    m.includes('not allowed') ||
    (m.includes('not found') && m.includes('command'))
  );
}

// Entity types, by position in the contract.
export type JsonValue = import('./generated').JsonValue;
export type StatusInfo = ResultOf<'status'>;
export type Attention = StatusInfo['attention'][number];
export type AgentInfo = ResultOf<'agents'>['agents'][number];
export type WorkflowsReport = ResultOf<'workflows'>;
export type WorkflowStatus = WorkflowsReport['workflows'][number];
export type LoadFailure = WorkflowsReport['load_errors'][number];
export type WorkflowSource = ResultOf<'workflow_source'>;
export type SaveWorkflowResult = ResultOf<'save_workflow'>;
export type LoadError = NonNullable<SaveWorkflowResult['load_error']>;
export type Template = ResultOf<'workflow_templates'>[number];
export type DryRunArgs = ArgsOf<'dry_run'>;
export type DryRunReport = ResultOf<'dry_run'>;
export type DryRunOutput = DryRunReport['outputs'][number];
export type StoredEvent = ResultOf<'event'>;
export type StoredCommand = ResultOf<'command'>;
export type WireEvent = ResultOf<'replay'>;
export type EventQuery = NonNullable<ArgsOf<'events'>>;
export type CommandQuery = NonNullable<ArgsOf<'commands'>>;
export type EventsPage = ResultOf<'events'>;
export type CommandsPage = ResultOf<'commands'>;
export type PublishArgs = ArgsOf<'publish_event'>;
export type LogQuery = NonNullable<ArgsOf<'logs'>>;
export type LogLine = ResultOf<'logs'>[number];
export type Settings = ResultOf<'settings'>;
export type SettingsPatch = ArgsOf<'save_settings'>;
export type SaveSettingsResult = ResultOf<'save_settings'>;
export type AccountsReport = ResultOf<'accounts'>;
export type Account = AccountsReport['accounts'][number];
export type Provider = AccountsReport['providers'][number];
export type ConnectArgs = ArgsOf<'connect_account'>;
