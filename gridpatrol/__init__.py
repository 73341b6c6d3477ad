"""GridPatrol: the ``gridpatrol`` command and the one-machine demo that joins edge and dispatcher."""
