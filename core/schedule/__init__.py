"""The periodic schedule: it only requests syncs (principle 6).

`stagger` spreads the services' fire times, `plan` resolves each service's
interval and offset and what a schedule achieves, `jobs` keeps the APScheduler
jobs, and `ticks` is the runner's schedule, which requests and publishes its plan.
"""
