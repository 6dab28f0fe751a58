"""sla: working-time clocks, warnings, delay attribution, apologies and reports."""
