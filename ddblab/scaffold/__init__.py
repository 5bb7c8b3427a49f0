"""What `ddblab new consumer NAME` writes: a handler from the template, its unit test and its
integration test (the .tmpl files here, __NAME__ replaced), and one line in the stack
description (ddblab/stack/consumers.py)."""
