"""The phase gates behind ``tina-session check``: pure rules over files, no printing.

``plan`` validates a phase plan's text, ``complexity`` measures a source tree, ``verify`` picks a
project's test and lint commands. The command module (:mod:`tina.session.commands.checks`) prints
the original CLI's lines and runs the commands.
"""
