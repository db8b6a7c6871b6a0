"""Measurements inside one Python process, no server: view time (micro), the database alone,
instructions counted under callgrind, and the table-size check."""
