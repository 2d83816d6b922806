"""Background jobs: huey, with progress and results pushed to the user who asked.

    from flask_keel.jobs import JobError, periodic_task, progress, task

    @task(retries=2)
    def import_students(course_id: int, text: str) -> dict:
        progress(10, "Reading the file")
        ...
        return {"message": "3 students enrolled."}      # pushed as "job.done"

    @periodic_task(crontab(minute="0", hour="3"))        # or every=600 (seconds)
    def nightly_cleanup(): ...

    job_id = import_students(course.id, text)           # from a view, a named request, a socket handler

Storage (SERVER_ENV.JOBS.STORAGE): SQLite under the instance folder, or Redis.
Consumers: one inside `python -m app serve` (embedded.py), or `flask jobs
worker` processes (cli/jobs.py). The pieces: tasks.py (the API), queue.py (the
app's Huey), storage.py (jobs taken are claimed, never lost), serializer.py
(JSON, never pickle), consumer.py.
"""

from huey import crontab

from flask_keel.jobs.queue import JobQueue, TooManyJobs, jobs_of
from flask_keel.jobs.tasks import JobError, pause, periodic_task, progress, running_job, task

__all__ = ["JobError", "JobQueue", "TooManyJobs", "crontab", "jobs_of", "pause", "periodic_task", "progress",
           "running_job", "task"]
