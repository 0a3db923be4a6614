"""The portal's routes, one module per role (plus login and the API)."""
