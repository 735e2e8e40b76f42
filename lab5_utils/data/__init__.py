"""Data: the course label files (``objects.json``, ``train.json``, ``test.json``, ``new_test.json``, shipped
byte-exact), reading an i-CLEVR folder into cached uint8 tensors (``dataset``), the embedded synthetic default
(``default``) and the exploration helpers of notebook 01 (``explore``)."""
