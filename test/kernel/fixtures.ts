/**
 * Real tracefs text captured on this project's machine (Linux 6.18.44, tracefs at
 * /sys/kernel/tracing, private instance, trace_clock mono). See the scenario of
 * each line in its name. Regenerate by enabling tcp:tcp_send_reset and
 * tcp:tcp_receive_reset in an instance and reading its trace_pipe.
 */

/** events/tcp/tcp_send_reset/format */
export const SEND_RESET_FORMAT = "name: tcp_send_reset\nID: 2280\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:const void * skbaddr;\toffset:8;\tsize:8;\tsigned:0;\n\tfield:const void * skaddr;\toffset:16;\tsize:8;\tsigned:0;\n\tfield:int state;\toffset:24;\tsize:4;\tsigned:1;\n\tfield:enum sk_rst_reason reason;\toffset:28;\tsize:4;\tsigned:0;\n\tfield:__u8 saddr[28];\toffset:32;\tsize:28;\tsigned:0;\n\tfield:__u8 daddr[28];\toffset:60;\tsize:28;\tsigned:0;\n\nprint fmt: \"skbaddr=%p skaddr=%p src=%pISpc dest=%pISpc state=%s reason=%s\", REC->skbaddr, REC->skaddr, REC->saddr, REC->daddr, REC->state ? __print_symbolic(REC->state, { TCP_ESTABLISHED, \"TCP_ESTABLISHED\" }, { TCP_SYN_SENT, \"TCP_SYN_SENT\" }, { TCP_SYN_RECV, \"TCP_SYN_RECV\" }, { TCP_FIN_WAIT1, \"TCP_FIN_WAIT1\" }, { TCP_FIN_WAIT2, \"TCP_FIN_WAIT2\" }, { TCP_TIME_WAIT, \"TCP_TIME_WAIT\" }, { TCP_CLOSE, \"TCP_CLOSE\" }, { TCP_CLOSE_WAIT, \"TCP_CLOSE_WAIT\" }, { TCP_LAST_ACK, \"TCP_LAST_ACK\" }, { TCP_LISTEN, \"TCP_LISTEN\" }, { TCP_CLOSING, \"TCP_CLOSING\" }, { TCP_NEW_SYN_RECV, \"TCP_NEW_SYN_RECV\" }) : \"UNKNOWN\", __print_symbolic(REC->reason, { 0, \"NOT_SPECIFIED\" }, { 1, \"NO_SOCKET\" }, { 2, \"TCP_INVALID_ACK_SEQUENCE\" }, { 3, \"TCP_RFC7323_PAWS\" }, { 4, \"TCP_TOO_OLD_ACK\" }, { 5, \"TCP_ACK_UNSENT_DATA\" }, { 6, \"TCP_FLAGS\" }, { 7, \"TCP_OLD_ACK\" }, { 8, \"TCP_ABORT_ON_DATA\" }, { 9, \"TCP_TIMEWAIT_SOCKET\" }, { 10, \"INVALID_SYN\" }, { 11, \"TCP_ABORT_ON_CLOSE\" }, { 12, \"TCP_ABORT_ON_LINGER\" }, { 13, \"TCP_ABORT_ON_MEMORY\" }, { 14, \"TCP_STATE\" }, { 15, \"TCP_KEEPALIVE_TIMEOUT\" }, { 16, \"TCP_DISCONNECT_WITH_DATA\" }, { 17, \"MPTCP_RST_EUNSPEC\" }, { 18, \"MPTCP_RST_EMPTCP\" }, { 19, \"MPTCP_RST_ERESOURCE\" }, { 20, \"MPTCP_RST_EPROHIBIT\" }, { 21, \"MPTCP_RST_EWQ2BIG\" }, { 22, \"MPTCP_RST_EBADPERF\" }, { 23, \"MPTCP_RST_EMIDDLEBOX\" }, { 24, \"ERROR\" }, { 25, \"MAX\" })\n";

/** events/tcp/tcp_receive_reset/format */
export const RECEIVE_RESET_FORMAT = "name: tcp_receive_reset\nID: 2279\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:const void * skaddr;\toffset:8;\tsize:8;\tsigned:0;\n\tfield:__u16 sport;\toffset:16;\tsize:2;\tsigned:0;\n\tfield:__u16 dport;\toffset:18;\tsize:2;\tsigned:0;\n\tfield:__u16 family;\toffset:20;\tsize:2;\tsigned:0;\n\tfield:__u8 saddr[4];\toffset:22;\tsize:4;\tsigned:0;\n\tfield:__u8 daddr[4];\toffset:26;\tsize:4;\tsigned:0;\n\tfield:__u8 saddr_v6[16];\toffset:30;\tsize:16;\tsigned:0;\n\tfield:__u8 daddr_v6[16];\toffset:46;\tsize:16;\tsigned:0;\n\tfield:__u64 sock_cookie;\toffset:64;\tsize:8;\tsigned:0;\n\nprint fmt: \"family=%s sport=%hu dport=%hu saddr=%pI4 daddr=%pI4 saddrv6=%pI6c daddrv6=%pI6c sock_cookie=%llx\", __print_symbolic(REC->family, { 2, \"AF_INET\" }, { 10, \"AF_INET6\" }), REC->sport, REC->dport, REC->saddr, REC->daddr, REC->saddr_v6, REC->daddr_v6, REC->sock_cookie\n";

export const LINES = {
  /** node connect 127.0.0.1:40001 → 127.0.0.1:1 (closed): the RST sender is 127.0.0.1:1, in softirq. */
  noSocketV4Send: "           <...>-4770    [001] ..s1.   325.717061: tcp_send_reset: skbaddr=00000000159b2cf2 skaddr=0000000000000000 src=127.0.0.1:1 dest=127.0.0.1:40001 state=UNKNOWN reason=NO_SOCKET",
  /** The client socket 127.0.0.1:40001 receiving that RST, in process context (pid 4770). */
  noSocketV4Receive: "           <...>-4770    [001] .....   325.717130: tcp_receive_reset: family=AF_INET sport=40001 dport=1 saddr=127.0.0.1 daddr=127.0.0.1 saddrv6=::ffff:127.0.0.1 daddrv6=::ffff:127.0.0.1 sock_cookie=1",
  /** [::1]:40002 → [::1]:1 (closed). */
  noSocketV6Send: "           <...>-4770    [001] ..s1.   325.717781: tcp_send_reset: skbaddr=00000000159b2cf2 skaddr=0000000000000000 src=[::1]:1 dest=[::1]:40002 state=UNKNOWN reason=NO_SOCKET",
  noSocketV6Receive: "           <...>-4770    [001] .....   325.717796: tcp_receive_reset: family=AF_INET6 sport=40002 dport=1 saddr=0.0.0.0 daddr=0.0.0.0 saddrv6=::1 daddrv6=::1 sock_cookie=2",
  /** IPv6 socket connecting to ::ffff:127.0.0.1:2 (closed): the packet is IPv4. */
  noSocketMappedSend: "           <...>-4778    [000] ..s1.   326.003558: tcp_send_reset: skbaddr=000000008b261879 skaddr=0000000000000000 src=127.0.0.1:2 dest=127.0.0.1:40003 state=UNKNOWN reason=NO_SOCKET",
  noSocketMappedReceive: "           <...>-4778    [000] .....   326.003607: tcp_receive_reset: family=AF_INET6 sport=40003 dport=2 saddr=127.0.0.1 daddr=127.0.0.1 saddrv6=::ffff:127.0.0.1 daddrv6=::ffff:127.0.0.1 sock_cookie=1001",
  /** Server 127.0.0.1:40010 closes an accepted socket with unread data; closer is pid 4999 (comm not yet cached). */
  abortOnCloseReceive: "           <...>-4999    [001] ..s2.   357.515924: tcp_receive_reset: family=AF_INET sport=40011 dport=40010 saddr=127.0.0.1 daddr=127.0.0.1 saddrv6=::ffff:127.0.0.1 daddrv6=::ffff:127.0.0.1 sock_cookie=3",
  abortOnCloseSend: "           <...>-4999    [001] .....   357.515964: tcp_send_reset: skbaddr=0000000000000000 skaddr=000000006acff4bc src=127.0.0.1:40010 dest=127.0.0.1:40011 state=TCP_CLOSE reason=TCP_ABORT_ON_CLOSE",
  /** Server 127.0.0.1:40020 closed an idle connection; client 40021 writes 300 ms later. */
  timeWaitSend: "            node-5007    [000] ..s1.   357.986267: tcp_send_reset: skbaddr=000000008b261879 skaddr=00000000474faf46 src=127.0.0.1:40020 dest=127.0.0.1:40021 state=TCP_TIME_WAIT reason=TCP_TIMEWAIT_SOCKET",
  timeWaitReceive: "            node-5007    [000] .....   357.986311: tcp_receive_reset: family=AF_INET sport=40021 dport=40020 saddr=127.0.0.1 daddr=127.0.0.1 saddrv6=::ffff:127.0.0.1 daddrv6=::ffff:127.0.0.1 sock_cookie=1002",
  /** Dual-stack server [::]:40040 aborting a connection from 127.0.0.1:40041 (v4-mapped socket). */
  abortOnCloseMappedSend: "           <...>-5354    [001] .....   451.083196: tcp_send_reset: skbaddr=0000000000000000 skaddr=0000000079406948 src=[::ffff:127.0.0.1]:40040 dest=[::ffff:127.0.0.1]:40041 state=TCP_CLOSE reason=TCP_ABORT_ON_CLOSE",
  abortOnCloseV6Send: "           <...>-5354    [001] .....   451.083571: tcp_send_reset: skbaddr=0000000000000000 skaddr=0000000087cbe6b4 src=[::1]:40050 dest=[::1]:40051 state=TCP_CLOSE reason=TCP_ABORT_ON_CLOSE",
  /** Other traffic of the machine seen from the idle task (softirq). */
  idleSoftirqSend: "          <idle>-0       [001] ..s2.   367.500470: tcp_send_reset: skbaddr=000000004c03a421 skaddr=000000001a12ba41 src=192.0.2.2:50174 dest=203.0.113.80:443 state=TCP_CLOSE reason=TCP_ABORT_ON_DATA",
  /** Option record-tgid on: "(tgid)" column; and a need-resched flag N. */
  tgidColumnSend: "            node-5112    (   5112) [001] ..s1.   386.117468: tcp_send_reset: skbaddr=00000000c84a5e7f skaddr=0000000000000000 src=127.0.0.1:1 dest=127.0.0.1:40031 state=UNKNOWN reason=NO_SOCKET",
  tgidColumnReceive: "            node-5112    (   5112) [001] .N...   386.117520: tcp_receive_reset: family=AF_INET sport=40031 dport=1 saddr=127.0.0.1 daddr=127.0.0.1 saddrv6=::ffff:127.0.0.1 daddrv6=::ffff:127.0.0.1 sock_cookie=195",
  /** Option irq-info off: no flags column. */
  noFlagsSend: "           <...>-5127    [001]    388.387758: tcp_send_reset: skbaddr=00000000c84a5e7f skaddr=0000000000000000 src=127.0.0.1:1 dest=127.0.0.1:40032 state=UNKNOWN reason=NO_SOCKET",
  /** A 4-page buffer flooded with resets, read late. */
  lost: "CPU:1 [LOST 720 EVENTS]",
} as const;
