"""seatflow: turn one paid order into a ready-to-run Moodle course session."""
