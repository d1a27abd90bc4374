"""A task for the worker-process test only (the worker loads it with `--include`): it charges
a saved card through the configured gateway, as settlement's charge task will."""

from celery import shared_task

from payments.gateway import get_gateway


@shared_task(name="standin_tests.charge_saved_card")
def charge_saved_card(customer_id, payment_method_id, amount_minor, currency, key, metadata):
    charge = get_gateway().charge_saved_card(
        customer_id, payment_method_id, amount_minor, currency, key, metadata
    )
    return {"id": charge.id, "status": str(charge.status)}
