"""From observations to Convex: coalescing, the durable outbox, the send loop."""
