"""A local emulator of the Copy.ai API (webhooks and workflow runs), for offline use and tests.

Run it with the `copyai-emulator` command, or from Python with `pulumi_copyai.emulator.testing`.
Needs the `emulator` extra: `pip install "pulumi-copyai[emulator]"`.
"""
