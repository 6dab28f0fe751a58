"""Sandbox gateways at the edge of the world: two SMS operators, Zalo ZNS, the postal operator and an SMTP
server that record what they receive, can be told to fail, and send signed webhooks back. Started by
``make run`` and by the tests; never in production."""
