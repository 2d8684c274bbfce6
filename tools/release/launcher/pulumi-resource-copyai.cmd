@echo off
rem pulumi-resource-copyai: the copyai Pulumi provider plugin, as the engine installs it from a plugin archive
rem (pulumi-resource-copyai-v<version>-windows-amd64.tar.gz). Its Python packages are in lib\, unpacked for
rem CPython 3.10 to 3.13 on Windows x64 (see launcher.py). This script picks the interpreter:
rem PULUMI_COPYAI_PYTHON if set, else the newest of py -3.13 ... py -3.10 (the Python launcher), else
rem python3 or python, if one of those versions; it then runs python.exe itself, so that the engine,
rem which stops a plugin by killing its child processes, stops the plugin.
setlocal
set "HERE=%~dp0"
set "PY="
if not defined PULUMI_COPYAI_PYTHON goto search
for /f "usebackq delims=" %%P in (`call "%%PULUMI_COPYAI_PYTHON%%" -I -S "%HERE%launcher.py" --probe 2^>nul`) do set "PY=%%P"
if defined PY goto run
>&2 echo pulumi-resource-copyai: PULUMI_COPYAI_PYTHON=%PULUMI_COPYAI_PYTHON% cannot run the plugin: it needs CPython 3.10, 3.11, 3.12 or 3.13
exit /b 1
:search
for %%C in ("py -3.13" "py -3.12" "py -3.11" "py -3.10" "python3" "python") do call :probe %%~C
if defined PY goto run
>&2 echo pulumi-resource-copyai: the copyai plugin needs CPython 3.10, 3.11, 3.12 or 3.13 and found none ^(tried py -3.13 to -3.10, python3, python^); install one from https://www.python.org/downloads/windows/ or set PULUMI_COPYAI_PYTHON to the path of one
exit /b 1
:probe
if defined PY exit /b 0
for /f "usebackq delims=" %%P in (`%* -I -S "%HERE%launcher.py" --probe 2^>nul`) do set "PY=%%P"
exit /b 0
:run
"%PY%" -I -S "%HERE%launcher.py" %*
exit /b %ERRORLEVEL%
