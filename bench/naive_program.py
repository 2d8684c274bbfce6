"""A naive provider, as a user would write it in a stack's __main__.py (so dill pickles it by value)."""

import os

import requests
from pulumi.dynamic import CreateResult, Resource, ResourceProvider


class NaiveProvider(ResourceProvider):
    """A fresh requests call per operation; no read, so refresh returns the state as it is."""

    def create(self, props):
        resp = requests.post(
            os.environ["COPYAI_BASE_URL"] + "/webhook",
            json={"url": props["url"], "eventType": props["event_type"]},
            headers={"x-copy-ai-api-key": os.environ["COPYAI_API_KEY"]},
            timeout=30,
        )
        resp.raise_for_status()
        return CreateResult(resp.json()["data"]["id"], {"url": props["url"], "event_type": props["event_type"]})

    def delete(self, id, props):
        requests.delete(os.environ["COPYAI_BASE_URL"] + f"/webhook/{id}",
                        headers={"x-copy-ai-api-key": os.environ["COPYAI_API_KEY"]}, timeout=30)


class NaiveWebhook(Resource):
    def __init__(self, name, url, event_type):
        super().__init__(NaiveProvider(), name, {"url": url, "event_type": event_type})
