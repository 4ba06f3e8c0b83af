// tests/support: the shared broker fixture lives here.
