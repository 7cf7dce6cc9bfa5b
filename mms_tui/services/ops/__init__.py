"""Running a database: set-up and upgrade, backup and restore, moving to another database, the demo.

May import everything."""
