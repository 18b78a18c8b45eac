from hmcli.bench.common import cpu_model, machine, machine_line, parse_cpu_model

CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Processor
flags\t\t: fpu vme avx512f amx_bf16

processor\t: 1
model name\t: Intel(R) Xeon(R) Processor
"""


def test_parse_cpu_model_takes_the_first_model_name():
    assert parse_cpu_model(CPUINFO) == "Intel(R) Xeon(R) Processor"
    assert parse_cpu_model("processor : 0\nmodel name : AMD EPYC 7B13\n") == "AMD EPYC 7B13"


def test_parse_cpu_model_none_without_a_name():
    assert parse_cpu_model("") is None
    assert parse_cpu_model("processor\t: 0\nmodel name\t:   \n") is None  # empty value
    assert parse_cpu_model("Hardware : BCM2835\n") is None  # some ARM kernels name no model


def test_machine_names_the_cpu_and_its_kernels():
    m = machine()
    assert m["cpu"] == cpu_model() and m["cpu"]
    assert m["cpu_capability"] and m["cores"] >= 1 and m["torch_threads"] >= 1
    line = machine_line(m)
    assert line.startswith(f"{m['cpu']} ({m['cpu_capability']}), {m['cores']} cores")


def test_machine_line_of_older_results_without_capability():
    old = {"cpu": "x86_64", "cores": 2, "torch_threads": 2, "torch": "2.13.0"}
    assert machine_line(old) == "x86_64, 2 cores, 2 torch threads, torch 2.13.0"
