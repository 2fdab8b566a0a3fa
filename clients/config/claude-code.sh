#!/bin/sh
# Claude Code: register zonebox for the current project.
claude mcp add zonebox -- /path/to/zonebox/build/zonebox --config "$PWD/zonebox.yaml" --tool-names underscore
