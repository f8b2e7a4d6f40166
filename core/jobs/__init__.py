"""The job queue (the trainings and predictions tables), the worker that drains it, and the child process
that runs one job. Nothing here imports streamlit; jobs run without it."""
