// A tracking plan violation, as an accepted event carries it in `context.violationErrors` (RudderStack's field
// and shape, plus Intake's `kind`) and a rejected item keeps it at GET /rejected.

/** What a plan can find wrong; each kind has its own mode (allow, omit, reject). */
export const VIOLATION_KINDS = [
  'unplannedEvent',
  'unplannedProperty',
  'missingRequired',
  'wrongType',
  'naming',
] as const;
export type ViolationKind = (typeof VIOLATION_KINDS)[number];

/** What a violation of a kind does to its event. */
export const VIOLATION_MODES = ['allow', 'omit', 'reject'] as const;
export type ViolationMode = (typeof VIOLATION_MODES)[number];

/** RudderStack's violation types, so tools that read its `violationErrors` read ours. */
export const RUDDERSTACK_TYPE: Record<ViolationKind, string> = {
  unplannedEvent: 'Unplanned-Event',
  unplannedProperty: 'Additional-Properties',
  missingRequired: 'Required-Missing',
  wrongType: 'Datatype-Mismatch',
  naming: 'Unknown-Violation',
};

export interface Violation {
  /** RudderStack's type (RUDDERSTACK_TYPE). */
  type: string;
  kind: ViolationKind;
  /** Names the field, e.g. `properties.total must be number`. */
  message: string;
  meta: {
    /** JSON pointer into the event: `/properties/total`, `/traits/email`, `/event`. */
    instancePath: string;
    /** Where in the plan the rule is, e.g. `#/events/Order Completed/properties/properties/total/type`. */
    schemaPath: string;
  };
  /** True when the `omit` mode removed the offending value from the stored event. */
  omitted?: true;
}
