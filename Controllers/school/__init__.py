"""The school demo: teachers create courses, students enrol, teachers see each
enrolment arrive live. Remove it with `flask feature remove school`."""

from Controllers.school.api import api
from Controllers.school.pages import pages

__all__ = ["api", "pages"]
