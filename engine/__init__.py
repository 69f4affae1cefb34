"""BPMN runtime around SpiffWorkflow: diagrams, versions, instances, tasks, timers, messages and audit."""
