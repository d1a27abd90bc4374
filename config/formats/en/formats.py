"""Display formats for English: day-month-year and a 24-hour clock, as in the Belgian towns
the platform serves. Input formats are not set here: Django's English ones still apply."""

DATE_FORMAT = "j M Y"  # 3 Mar 2026
DATETIME_FORMAT = "j M Y, H:i"  # 3 Mar 2026, 14:05
TIME_FORMAT = "H:i"
YEAR_MONTH_FORMAT = "F Y"  # March 2026
MONTH_DAY_FORMAT = "j F"  # 3 March
SHORT_DATE_FORMAT = "d/m/Y"  # 03/03/2026
SHORT_DATETIME_FORMAT = "d/m/Y H:i"
FIRST_DAY_OF_WEEK = 1  # Monday, in the admin's calendar
