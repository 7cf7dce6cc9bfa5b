"""Running a database: set-up and upgrade, backup and restore, the demo.

May import everything."""
