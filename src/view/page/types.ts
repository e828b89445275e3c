/** The JSON the server sends and the journal lines it relays: one set of declarations (wire.ts). */
export type {
  InstanceJson,
  InstanceSummary,
  JournalEvent,
  Json,
  PlanJson,
  ResultsJson,
} from '../../engine/view/wire.ts';
