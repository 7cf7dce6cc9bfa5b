"""Print the next 29 February after today (ISO date): CI runs the fast tests with the clock moved there."""

import datetime as dt

day = dt.date.today()  # the machine's real calendar, on purpose: this picks the moment to move the clock to
year = day.year
while True:
    try:
        leap = dt.date(year, 2, 29)
    except ValueError:
        year += 1
        continue
    if leap > day:
        print(leap.isoformat())
        break
    year += 1
