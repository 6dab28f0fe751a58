"""Sandbox gateways at the edge of the world: an SMS operator and an SMTP server that record what
they receive and can be told to fail. Started by ``make run`` and by the tests; never in production."""
