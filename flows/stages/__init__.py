"""Pipeline stages as plain functions: read the database, call domain logic, write back.

Each stage takes the settings (and a run date where it matters) and returns counts
only, never personal data, so the Prefect flows can log them and put them in
artifacts. The CLI calls the same functions without a Prefect server.
"""
