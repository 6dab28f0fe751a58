"""notify: citizen SMS, email and Zalo messages, postal orders; each sent exactly once."""
