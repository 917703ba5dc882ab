"""Personal data: redaction for public surfaces, retention and citizens' data requests."""
