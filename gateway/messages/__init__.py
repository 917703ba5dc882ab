"""Messages in and out: storing what a webhook carried, queueing replies, limits and costs."""
