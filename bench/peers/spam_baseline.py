# The spam baseline for examples/spam.js: TF-IDF (scikit-learn defaults) + logistic regression on the same train/test
# split, read from the JSON the example writes ({"train": {"texts", "labels"}, "test": {...}}). Prints one JSON line:
# {"accuracy": ..., "train": n, "test": n, "sklearn": version}.
#   /usr/bin/python3 bench/peers/spam_baseline.py split.json
import json
import sys

import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

with open(sys.argv[1]) as f:
    split = json.load(f)
vec = TfidfVectorizer()
x_train = vec.fit_transform(split['train']['texts'])
x_test = vec.transform(split['test']['texts'])
clf = LogisticRegression(max_iter=2000)
clf.fit(x_train, split['train']['labels'])
accuracy = float((clf.predict(x_test) == split['test']['labels']).mean())
print(json.dumps({'accuracy': accuracy, 'train': len(split['train']['labels']), 'test': len(split['test']['labels']), 'sklearn': sklearn.__version__}))
