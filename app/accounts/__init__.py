"""Who may do what: API keys for apps, console users, and the audit log of their actions."""
