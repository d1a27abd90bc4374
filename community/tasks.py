"""Community tasks: thin, by id, safe to run twice (every email they queue has its own key)."""

from celery import shared_task

from core.ratelimit import backoff_delay


@shared_task(name="community.fan_out_update", bind=True, max_retries=8)
def fan_out_update(self, update_id, claim=None):
    """Email an update to whoever of its audience has not had it (supporters, followers) per
    their settings. `claim`: the update's claim this run may take over (the sweep's, or the
    failed run's it retries). A failure is retried with backoff (within the claim's lease),
    holding the claim; after the last try the sweep takes the update over once it expires."""
    from community import updates

    try:
        return updates.fan_out(update_id, claim=claim)
    except updates.FanOutInterrupted as interrupted:
        raise self.retry(
            args=[update_id],
            kwargs={"claim": interrupted.claim},
            countdown=backoff_delay(self.request.retries, base=5, cap=300),
            exc=interrupted,
        ) from None


@shared_task(name="community.sweep")
def sweep():
    """Beat's follower sweep: launch emails, the 48-hour reminder; and fan-out tasks for
    updates that turned public since they were emailed (their wider audience is emailed
    then) and for updates whose fan-out task message was lost. It never fans out itself."""
    from community import follows, updates

    return {
        "follower_emails": follows.send_follower_emails(),
        "updates_turned_public": updates.fan_out_turned_public(),
        "updates_fanned_out_late": updates.fan_out_lost(),
    }
