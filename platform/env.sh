# Sourced by platform scripts: loads the project's environment files without
# overriding anything the caller already exported.
#
# INTERLINK_ENV_FILES lists the files, first one wins for each name; by default
# .env when it exists, else the committed .env.example.

interlink_load_env() {
    local root=$1 files file line key value
    files=${INTERLINK_ENV_FILES:-}
    if [ -z "$files" ]; then
        if [ -f "$root/.env" ]; then files=.env; else files=.env.example; fi
    fi
    for file in $files; do
        case $file in /*) ;; *) file=$root/$file ;; esac
        [ -f "$file" ] || { echo "environment file $file is missing" >&2; return 1; }
        while IFS= read -r line || [ -n "$line" ]; do
            case $line in ''|'#'*) continue ;; esac
            key=${line%%=*}
            value=${line#*=}
            if [ -z "${!key+set}" ]; then
                export "$key=$value"
            fi
        done < "$file"
    done
}
