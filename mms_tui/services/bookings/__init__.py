"""预约 / 课程安排: appointments with staff and rooms (``appointments``: conflicts, the next free slots, moves,
cancellations and the no-show policy, arrival into checkout), the day view's grid (``dayview``), and group classes
(``classes``: timetables, sessions, places, waitlists promoted in order, check-in at the door).

May import ``base``, ``ledger``, ``staff``, ``catalogue``, ``loyalty``, ``money`` and ``members``."""
