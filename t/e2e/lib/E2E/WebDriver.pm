package E2E::WebDriver;
# A small W3C WebDriver client (https://www.w3.org/TR/webdriver2/) for the
# browser suites: it starts Debian's chromedriver on a free loopback port,
# opens one headless Chromium session and speaks the protocol with
# HTTP::Tiny + JSON::PP, so the suites need no WebDriver library beyond
# the two Debian packages (chromium, chromium-driver).
#
#   my $wd = E2E::WebDriver->start(artefacts => $dir) or plan skip_all => …;
#   $wd->get($url); $wd->type('#username', 'x'); $wd->click('#kc-login');
#   $wd->wait_for('#who-tenant', 20); $wd->screenshot('01-login');
#
# The session and chromedriver end with the object (DESTROY) or quit().
use strict;
use warnings;
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use MIME::Base64 qw(decode_base64);
use File::Path qw(make_path);
use Time::HiRes qw(sleep time);

my $ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';    # the spec's element key
my $JSON = JSON::PP->new->utf8->canonical;

sub _free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1)
        or die "no free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

# The chromedriver and chromium binaries, or undef when not installed.
sub binaries {
    my ($driver) = grep { -x } '/usr/bin/chromedriver', '/usr/lib/chromium/chromedriver';
    my ($browser) = grep { -x } '/usr/bin/chromium', '/usr/lib/chromium/chromium';
    return $driver && $browser ? ($driver, $browser) : ();
}

sub start {
    my ($class, %o) = @_;
    my ($driver, $browser) = binaries() or return;
    my $dir = $o{artefacts} or die 'artefacts => DIR required';
    make_path($dir);
    my $port = _free_port();
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', "$dir/chromedriver.log" or die;
        open STDERR, '>&', \*STDOUT or die;
        exec $driver, "--port=$port", '--allowed-ips=127.0.0.1' or die "exec $driver: $!";
    }
    my $self = bless { pid => $pid, base => "http://127.0.0.1:$port", dir => $dir,
                       ua => HTTP::Tiny->new(timeout => 120) }, $class;
    my $deadline = time + 30;
    until ($self->{ua}->get("$self->{base}/status")->{success}) {
        if (time > $deadline) { $self->quit; die "chromedriver did not answer on :$port\n" }
        sleep 0.2;
    }
    make_path("$dir/profile");
    my $caps = { capabilities => { alwaysMatch => {
        browserName => 'chrome',
        # Chromium's DevTools network events (requests()): lets a suite see
        # what the page sent without the page exposing anything.
        'goog:loggingPrefs' => { performance => 'ALL' },
        'goog:chromeOptions' => {
            binary => $browser,
            # --no-sandbox: the suites run as root (CI), where Chromium's
            # sandbox refuses to start; the pages are the stack's own.
            args => ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
                     '--window-size=1100,900', '--no-first-run', '--password-store=basic',
                     "--user-data-dir=$dir/profile"],
        } } } };
    my $v = $self->_call(POST => '/session', $caps);
    $self->{session} = $v->{sessionId} or do { $self->quit; die "no WebDriver session\n" };
    return $self;
}

sub _call {
    my ($self, $method, $path, $body) = @_;
    my $res = $self->{ua}->request($method, $self->{base} . $path, {
        headers => { 'Content-Type' => 'application/json; charset=utf-8' },
        (defined $body ? (content => $JSON->encode($body)) : ()) });
    my $d = eval { $JSON->decode($res->{content}) } // {};
    if (!$res->{success}) {
        my $e = ref $d->{value} eq 'HASH' ? $d->{value} : {};
        die sprintf("WebDriver %s %s: %s %s\n", $method, $path, $e->{error} // $res->{status},
                    substr($e->{message} // $res->{content} // '', 0, 300));
    }
    return $d->{value};
}

sub _s { my ($self, $method, $path, $body) = @_; $self->_call($method, "/session/$self->{session}$path", $body) }

sub get     { my ($self, $url) = @_; $self->_s(POST => '/url', { url => $url }); return }
sub url     { $_[0]->_s(GET => '/url') }
sub title   { $_[0]->_s(GET => '/title') }
sub execute { my ($self, $script, @args) = @_; $self->_s(POST => '/execute/sync', { script => $script, args => [@args] }) }

# The element matching CSS selector $css, or undef.
sub find {
    my ($self, $css) = @_;
    my $v = $self->_s(POST => '/elements', { using => 'css selector', value => $css });
    return @$v ? $v->[0]{$ELEMENT} : undef;
}

# Waits up to $secs for a visible element matching $css; its id, or undef.
sub wait_for {
    my ($self, $css, $secs) = @_;
    my $deadline = time + ($secs // 30);
    while (time < $deadline) {
        my $id = $self->find($css);
        return $id if $id && $self->_s(GET => "/element/$id/displayed");
        sleep 0.25;
    }
    return undef;
}

sub text {
    my ($self, $css) = @_;
    my $id = $self->find($css) // return undef;
    return $self->_s(GET => "/element/$id/text");
}

sub type {
    my ($self, $css, $value) = @_;
    my $id = $self->wait_for($css, 30) // die "no element $css\n";
    $self->_s(POST => "/element/$id/clear", {});
    $self->_s(POST => "/element/$id/value", { text => $value });
    return;
}

sub click {
    my ($self, $css) = @_;
    my $id = $self->wait_for($css, 30) // die "no element $css\n";
    $self->_s(POST => "/element/$id/click", {});
    return;
}

# Requests the page sent since the last call: [{url, method, headers}],
# from Chromium's performance log (Network.requestWillBeSent).
sub requests {
    my ($self) = @_;
    my @out;
    for my $entry (@{ $self->_s(POST => '/se/log', { type => 'performance' }) // [] }) {
        my $m = eval { JSON::PP->new->decode($entry->{message}) } or next;
        next unless ($m->{message}{method} // '') eq 'Network.requestWillBeSent';
        my $r = $m->{message}{params}{request} or next;
        push @out, { url => $r->{url}, method => $r->{method}, headers => $r->{headers} // {} };
    }
    return @out;
}

# Saves a PNG of the page as DIR/NAME.png and returns its path.
sub screenshot {
    my ($self, $name) = @_;
    my $png = decode_base64($self->_s(GET => '/screenshot'));
    my $path = "$self->{dir}/$name.png";
    open my $fh, '>:raw', $path or die "$path: $!";
    print $fh $png;
    close $fh;
    return $path;
}

sub quit {
    my ($self) = @_;
    eval { $self->_s(DELETE => '') if $self->{session}; 1 };
    delete $self->{session};
    if (my $pid = delete $self->{pid}) {
        kill 'TERM', $pid;
        waitpid $pid, 0;
    }
    return;
}

sub DESTROY { $_[0]->quit }

1;
