"""The load machinery: Locust driven in-process (and its workers on other processes or hosts),
wrk as the second load generator, and the checks that make one run trustworthy."""
