# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_elirepo_global_optspecs
    string join \n q/quiet v/verbose h/help V/version
end

function __fish_elirepo_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_elirepo_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_elirepo_using_subcommand
    set -l cmd (__fish_elirepo_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c elirepo -n "__fish_elirepo_needs_command" -s q -l quiet -d 'Print only errors (no steps, warnings or progress bars)'
complete -c elirepo -n "__fish_elirepo_needs_command" -s v -l verbose -d 'Print details too: settings, timings, what changed'
complete -c elirepo -n "__fish_elirepo_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c elirepo -n "__fish_elirepo_needs_command" -s V -l version -d 'Print version'
complete -c elirepo -n "__fish_elirepo_needs_command" -f -a "build" -d 'Build and publish the repository (pool, indexes, Release, signatures)'
complete -c elirepo -n "__fish_elirepo_needs_command" -f -a "verify" -d 'Check a published repository (directory or http:// URL) as eliloader and apt use it'
complete -c elirepo -n "__fish_elirepo_needs_command" -f -a "xe-commands" -d 'Print the xe commands that point a XenServer template at the repository'
complete -c elirepo -n "__fish_elirepo_needs_command" -f -a "kernel" -d 'Inspect a kernel: will Xen boot it as a PV guest? (exit 0 only if PV-capable)'
complete -c elirepo -n "__fish_elirepo_needs_command" -f -a "packages" -d 'Write a Packages index to stdout, byte-identical to `apt-ftparchive packages`'
complete -c elirepo -n "__fish_elirepo_needs_command" -f -a "man" -d 'Print the manual page (roff) to stdout, or write every page into a directory'
complete -c elirepo -n "__fish_elirepo_needs_command" -f -a "completions" -d 'Print a shell completion script to stdout'
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -s c -l config -d 'Configuration file (TOML); flags override its values' -r -F
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -l repo -d 'Repository directory to publish into' -r -F
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -l suite -d 'Suite: publishes dists/SUITE' -r
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -l codename -d 'Codename (default: the suite)' -r
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -l arch -d 'Architecture (repeatable): i386, amd64, ...' -r
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -l component -d 'Component (default: main)' -r
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -l deb -d 'A .deb file or a directory searched for *.deb (repeatable)' -r -F
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -l origin -d 'Release Origin' -r
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -l label -d 'Release Label' -r
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -l description -d 'Release Description' -r
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -l valid-for -d 'Write Valid-Until this many days after Date' -r
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -l sign-key -d 'gpg key to sign with (id or fingerprint)' -r
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -l gpg-homedir -d 'gpg home directory holding the key' -r -F
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -l sign-key-file -d 'Armored secret key file (imported into a temporary gpg home)' -r -F
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -l passphrase-file -d 'File holding the key\'s passphrase' -r -F
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -l nfsroot -d 'Netboot: a FAI nfsroot to take the Xen kernel and initrd from' -r -F
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -l kernel-deb -d 'Netboot: a linux-image .deb to take boot/vmlinuz-* from' -r -F
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -l kernel -d 'Netboot: an explicit kernel file' -r -F
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -l initrd -d 'Netboot: an explicit initrd file' -r -F
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -l kernel-version -d 'Netboot: the kernel version to publish when there are several' -r
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -l netboot-arch -d 'Netboot: the installer architecture (default: the suite\'s only one)' -r
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -l no-by-hash -d 'Do not write by-hash/ copies (nor Acquire-By-Hash)'
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -l unsigned -d 'Ignore the config file\'s [sign] table and publish unsigned'
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -l no-wait -d 'Fail at once if another build holds the repository\'s lock'
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -l no-symlinks -d 'Put real files in installer-ARCH/current/ instead of a symlink'
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -l allow-oversize -d 'Allow a kernel over 32 MiB or an initrd over 128 MiB'
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -l force -d 'Publish a kernel that fails the Xen PV check (the guest will not boot)'
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -l json -d 'Print what the build did as JSON on stdout'
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -s q -l quiet -d 'Print only errors (no steps, warnings or progress bars)'
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -s v -l verbose -d 'Print details too: settings, timings, what changed'
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c elirepo -n "__fish_elirepo_using_subcommand build" -s V -l version -d 'Print version'
complete -c elirepo -n "__fish_elirepo_using_subcommand verify" -l suite -d 'Suite to check (repeatable; default: every suite of a directory)' -r
complete -c elirepo -n "__fish_elirepo_using_subcommand verify" -l arch -d 'Architecture to check (repeatable; default: the Release\'s)' -r
complete -c elirepo -n "__fish_elirepo_using_subcommand verify" -l keyring -d 'Keyring to verify InRelease and Release.gpg with (gpgv)' -r -F
complete -c elirepo -n "__fish_elirepo_using_subcommand verify" -l json -d 'Print the report as JSON on stdout'
complete -c elirepo -n "__fish_elirepo_using_subcommand verify" -s q -l quiet -d 'Print only errors (no steps, warnings or progress bars)'
complete -c elirepo -n "__fish_elirepo_using_subcommand verify" -s v -l verbose -d 'Print details too: settings, timings, what changed'
complete -c elirepo -n "__fish_elirepo_using_subcommand verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c elirepo -n "__fish_elirepo_using_subcommand verify" -s V -l version -d 'Print version'
complete -c elirepo -n "__fish_elirepo_using_subcommand xe-commands" -l repo-url -d 'Repository URL as eliloader will fetch it (http:// or ftp://)' -r
complete -c elirepo -n "__fish_elirepo_using_subcommand xe-commands" -l suite -d 'Suite (other-config:debian-release)' -r
complete -c elirepo -n "__fish_elirepo_using_subcommand xe-commands" -l arch -d 'Architecture (other-config:install-arch): i386 or amd64' -r
complete -c elirepo -n "__fish_elirepo_using_subcommand xe-commands" -l template -d 'Template UUID' -r
complete -c elirepo -n "__fish_elirepo_using_subcommand xe-commands" -l nfsroot -d 'FAI nfsroot as HOST:PATH, for the template\'s PV-args' -r
complete -c elirepo -n "__fish_elirepo_using_subcommand xe-commands" -l fai-action -d 'FAI_ACTION for PV-args (default install)' -r
complete -c elirepo -n "__fish_elirepo_using_subcommand xe-commands" -l vm -d 'A VM whose interrupted installation to re-arm' -r
complete -c elirepo -n "__fish_elirepo_using_subcommand xe-commands" -s q -l quiet -d 'Print only errors (no steps, warnings or progress bars)'
complete -c elirepo -n "__fish_elirepo_using_subcommand xe-commands" -s v -l verbose -d 'Print details too: settings, timings, what changed'
complete -c elirepo -n "__fish_elirepo_using_subcommand xe-commands" -s h -l help -d 'Print help'
complete -c elirepo -n "__fish_elirepo_using_subcommand xe-commands" -s V -l version -d 'Print version'
complete -c elirepo -n "__fish_elirepo_using_subcommand kernel" -l json -d 'Print the report as JSON on stdout'
complete -c elirepo -n "__fish_elirepo_using_subcommand kernel" -s q -l quiet -d 'Print only errors (no steps, warnings or progress bars)'
complete -c elirepo -n "__fish_elirepo_using_subcommand kernel" -s v -l verbose -d 'Print details too: settings, timings, what changed'
complete -c elirepo -n "__fish_elirepo_using_subcommand kernel" -s h -l help -d 'Print help'
complete -c elirepo -n "__fish_elirepo_using_subcommand kernel" -s V -l version -d 'Print version'
complete -c elirepo -n "__fish_elirepo_using_subcommand packages" -s q -l quiet -d 'Print only errors (no steps, warnings or progress bars)'
complete -c elirepo -n "__fish_elirepo_using_subcommand packages" -s v -l verbose -d 'Print details too: settings, timings, what changed'
complete -c elirepo -n "__fish_elirepo_using_subcommand packages" -s h -l help -d 'Print help'
complete -c elirepo -n "__fish_elirepo_using_subcommand packages" -s V -l version -d 'Print version'
complete -c elirepo -n "__fish_elirepo_using_subcommand man" -l dir -d 'Write elirepo.1 and one elirepo-COMMAND.1 per command into DIR' -r -F
complete -c elirepo -n "__fish_elirepo_using_subcommand man" -s q -l quiet -d 'Print only errors (no steps, warnings or progress bars)'
complete -c elirepo -n "__fish_elirepo_using_subcommand man" -s v -l verbose -d 'Print details too: settings, timings, what changed'
complete -c elirepo -n "__fish_elirepo_using_subcommand man" -s h -l help -d 'Print help'
complete -c elirepo -n "__fish_elirepo_using_subcommand man" -s V -l version -d 'Print version'
complete -c elirepo -n "__fish_elirepo_using_subcommand completions" -s q -l quiet -d 'Print only errors (no steps, warnings or progress bars)'
complete -c elirepo -n "__fish_elirepo_using_subcommand completions" -s v -l verbose -d 'Print details too: settings, timings, what changed'
complete -c elirepo -n "__fish_elirepo_using_subcommand completions" -s h -l help -d 'Print help'
complete -c elirepo -n "__fish_elirepo_using_subcommand completions" -s V -l version -d 'Print version'
