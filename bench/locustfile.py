"""Load test for the REST API (single tweets, the micro-batched path).

    locust -f bench/locustfile.py --headless -u 20 -r 10 -t 20s --host http://127.0.0.1:7860

Only point it at a server you run yourself (loopback).
"""

import random

from locust import HttpUser, between, task

TWEETS = [
    "Have a lovely weekend everyone, see you at the match!",
    "@user they should all be sent back where they came from",
    "Refugees welcome here, we are stronger together",
    "مرحبا بالجميع 😊 #peace",
    "@user @user this is the worst take I have read all week http",
    "#BuildTheWall #SendThemBack",
]


class TweetUser(HttpUser):
    wait_time = between(0.01, 0.05)

    @task(5)
    def one_tweet(self):
        self.client.post(
            "/predict_labels_one_tweet", params={"tweet": random.choice(TWEETS)}, name="/predict_labels_one_tweet"
        )

    @task(1)
    def json_batch(self):
        self.client.post("/v1/classify", json={"texts": random.sample(TWEETS, 3)})
