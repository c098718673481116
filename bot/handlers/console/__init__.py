"""The console: a resident's conversation on stdin/stdout (`gridintake chat`)."""
