"""Actions that change a store: move to trash, restore, purge; each one
journaled in the audit log before it happens."""
