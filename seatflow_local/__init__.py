"""The local runtime: the same template, state machine and handlers, on moto and the Moodle sandbox."""
