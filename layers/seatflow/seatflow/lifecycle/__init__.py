"""An order after it was accepted: retried, amended, cancelled, each change once and in turn, undoing only
what the order granted. `events` publishes each change of an order's status."""
