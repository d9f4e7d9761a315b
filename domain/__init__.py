"""Pure payment rules: entities, value objects, the state machine, errors, events, ports and
use cases. Imports the standard library only (checked by import-linter)."""
