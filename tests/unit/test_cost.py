"""schema/cost.py on documents: what an operation can return (CERTS_MAX_QUERY_COST) and
what its mutations weigh (CERTS_RATE_LIMIT_PER_MINUTE), read off the document with its
fragments expanded, @skip/@include and variables resolved, before anything runs."""

from __future__ import annotations

import re
from pathlib import Path

from graphql import parse

from bench import scenarios
from certreissue.settings import Settings
from domain.rules import ALLOWED_PARAMETERS
from schema import build_schema
from schema.cost import HEAVIEST_ONLINE_WEIGHT, NOMINAL_LIST_SIZE, ONLINE_KEY_WEIGHTS, operation_cost

SCHEMA = build_schema()._schema
ROOT = Path(__file__).resolve().parents[2]
CERT = "crt_000000000000000000000000"


def cost(document: str, variables: dict | None = None, operation_name: str | None = None):
    return operation_cost(SCHEMA, parse(document), operation_name, variables)


def objects(document: str, variables: dict | None = None) -> int:
    return cost(document, variables).objects


def weight(document: str, variables: dict | None = None) -> int:
    return cost(document, variables).mutation_weight


def online(**fields) -> str:
    """A requestReissue with a literal input, csrSource ONLINE unless given."""
    fields = {"certificateId": f'"{CERT}"', "csrSource": "ONLINE", **fields}
    literal = ", ".join(f"{k}: {v}" for k, v in fields.items() if v is not None)
    return f"requestReissue(input: {{{literal}}}) {{ privateKeyPem }}"


# --- the query cost: objects the operation can return ---------------------------------


def test_scalars_and_typename_cost_nothing():
    assert objects("{ __typename }") == 0
    assert objects("{ certificates { totalCount __typename } }") == 1


def test_a_connection_multiplies_its_edges_by_first_and_counts_its_page_info_once():
    assert objects("{ certificates(first: 50) { edges { node { id } } } }") == 1 + 50 * 2
    assert objects("{ certificates(first: 50) { totalCount pageInfo { hasNextPage } } }") == 1 + 1


def test_first_defaults_to_20_and_is_capped_at_100_as_the_api_caps_it():
    assert objects("{ certificates { edges { node { id } } } }") == 1 + 20 * 2
    assert objects("{ certificates(first: null) { edges { node { id } } } }") == 1 + 20 * 2
    assert objects("{ certificates(first: 5000) { edges { node { id } } } }") == 1 + 100 * 2
    assert objects("{ certificates(first: -3) { edges { node { id } } } }") == 1


def test_first_is_read_from_the_variables_and_defaults_when_they_leave_it_out():
    query = "query Q($n: Int) { certificates(first: $n) { edges { node { id } } } }"
    assert objects(query, {"n": 7}) == 1 + 7 * 2
    assert objects(query, {"n": 1000}) == 1 + 100 * 2
    assert objects(query, {}) == 1 + 20 * 2
    assert objects(query, {"n": None}) == 1 + 20 * 2
    with_default = "query Q($n: Int = 3) { certificates(first: $n) { edges { node { id } } } }"
    assert objects(with_default, {}) == 1 + 3 * 2


def test_nested_connections_multiply():
    query = """{ certificates(first: 10) { edges { node {
        reissues(first: 3) { edges { node { id events { at } } } } } } } }"""
    per_reissue = 1 + 1 + NOMINAL_LIST_SIZE  # edge, node, its events
    per_certificate = 1 + 1 + (1 + 3 * per_reissue)  # edge, node, its reissues connection
    assert objects(query) == 1 + 10 * per_certificate


def test_unpaginated_object_lists_count_a_nominal_size():
    assert objects(f'{{ certificate(id: "{CERT}") {{ id versions {{ serialNumber }} }} }}') == 1 + NOMINAL_LIST_SIZE
    # a list of scalars or enums is a scalar
    assert objects(f'{{ certificate(id: "{CERT}") {{ subjectAltNames }} }}') == 1


def test_every_alias_costs_on_its_own():
    one = "certificates(first: 10) { edges { node { id } } }"
    assert objects("{ a: %s b: %s c: %s }" % (one, one, one)) == 3 * (1 + 10 * 2)


def test_fields_merged_under_one_response_key_are_counted_once():
    query = "{ certificates(first: 10) { totalCount } certificates(first: 10) { edges { node { id } } } }"
    assert objects(query) == 1 + 10 * 2


def test_named_and_inline_fragments_are_expanded():
    query = """
    query { ...Page ... on Query { more: certificates(first: 2) { edges { node { id } } } } }
    fragment Page on Query { certificates(first: 10) { edges { node { ...Versions } } } }
    fragment Versions on Certificate { versions { serialNumber } }
    """
    assert objects(query) == (1 + 10 * (1 + 1 + NOMINAL_LIST_SIZE)) + (1 + 2 * 2)


def test_skip_and_include_are_honoured_literal_or_from_variables():
    query = """query Q($skip: Boolean!, $more: Boolean = false) {
        a: certificates(first: 10) @skip(if: $skip) { edges { node { id } } }
        b: certificates(first: 10) { totalCount edges @include(if: $more) { node { id } } }
        c: certificates(first: 10) @include(if: false) { edges { node { id } } }
    }"""
    assert objects(query, {"skip": True}) == 1
    assert objects(query, {"skip": False}) == (1 + 10 * 2) + 1
    assert objects(query, {"skip": True, "more": True}) == 1 + 10 * 2


def test_a_field_of_an_interface_costs_its_most_expensive_implementation():
    query = f"""{{ node(id: "{CERT}") {{
        ... on Certificate {{ versions {{ serialNumber }} }}
        ... on Reissue {{ events {{ at }} certificate {{ id }} }}
    }} }}"""
    assert objects(query) == 1 + NOMINAL_LIST_SIZE + 1


def test_the_attack_document_costs_far_more_than_the_default_limit():
    page = (
        "certificates(first: 100) { edges { node { id domain "
        "reissues(first: 20) { edges { node { id status events { at } } } } } } }"
    )
    attack = "{ " + " ".join(f"a{i}: {page}" for i in range(30)) + " }"
    per_certificate = 1 + 1 + (1 + 20 * (1 + 1 + NOMINAL_LIST_SIZE))
    assert objects(attack) == 30 * (1 + 100 * per_certificate) == 729_030
    assert objects(attack) > 10 * Settings().max_query_cost


def _readme_operations():
    readme = (ROOT / "README.md").read_text()
    for block in re.findall(r"```graphql\n(.*?)```", readme, re.S):
        document = parse(block)
        for definition in document.definitions:
            if getattr(definition, "operation", None) is not None:
                name = definition.name.value if definition.name else None
                yield name or block.split("\n")[1].strip(), block, name


def _bench_documents():
    yield "certificate", scenarios.CERTIFICATE, {"id": CERT}
    yield "certificates50", scenarios.CERTIFICATES, {"first": 50}
    yield "previewReissue", scenarios.PREVIEW, {"input": {"certificateId": CERT, **scenarios.PREVIEW_INPUT}}
    yield "request", scenarios.REQUEST, {"input": {"certificateId": CERT, "reason": scenarios.REQUEST_REASON}}
    yield "cancel", scenarios.CANCEL, {"id": "rei_000000000000000000000000"}
    yield "page", scenarios.PAGE, {"first": 50}
    yield "page of 100", scenarios.PAGE, {"first": 100}


def test_every_operation_in_the_readme_and_the_bench_is_within_the_default_limit():
    limit = Settings().max_query_cost
    assert limit == Settings.from_env({}).max_query_cost
    seen = 0
    for label, block, name in _readme_operations():
        found = operation_cost(SCHEMA, parse(block), name, {"id": CERT, "rid": "rei_000000000000000000000000", "pem": "PEM"})
        assert found is not None and found.objects <= limit, (label, found)
        seen += 1
    assert seen >= 8
    for label, document, variables in _bench_documents():
        found = cost(document, variables)
        assert found is not None and found.objects <= limit, (label, found)


def test_the_query_cost_limit_is_read_from_the_environment_and_zero_turns_it_off():
    assert Settings.from_env({"CERTS_MAX_QUERY_COST": "500"}).max_query_cost == 500
    assert Settings.from_env({"CERTS_MAX_QUERY_COST": "0"}).max_query_cost == 0


def test_variables_that_do_not_coerce_give_no_cost_the_execution_refuses_them_itself():
    query = "query Q($n: Int!) { certificates(first: $n) { totalCount } }"
    assert cost(query, {}) is None
    assert cost(query, {"n": "many"}) is None


def test_the_operation_named_is_the_one_measured():
    document = """
    query Small { certificates(first: 1) { edges { node { id } } } }
    query Large { certificates(first: 100) { edges { node { id } } } }
    """
    assert cost(document, operation_name="Small").objects == 3
    assert cost(document, operation_name="Large").objects == 201
    assert cost(document, operation_name="Missing") is None


def test_a_query_weighs_nothing_on_the_mutation_rate_limit():
    assert weight("{ certificates(first: 100) { totalCount } }") == 0
    assert weight(f"{{ previewReissue(input: {{certificateId: \"{CERT}\", csrSource: ONLINE}}) {{ waivers }} }}") == 0


# --- the mutation weight: rate-limit units ---------------------------------------------

CANCEL = 'cancelReissue(reissueId: "rei_000000000000000000000000") { userErrors { code } }'


def test_every_mutation_field_weighs_one_and_typename_nothing():
    assert weight("mutation { %s __typename }" % CANCEL) == 1
    assert weight("mutation { a: %s b: %s }" % (CANCEL, CANCEL)) == 2
    assert objects("mutation { %s }" % CANCEL) == 1 + NOMINAL_LIST_SIZE


def test_aliases_inside_an_inline_fragment_on_the_root_each_count():
    fields = " ".join(f"a{i}: {CANCEL}" for i in range(30))
    assert weight("mutation { ... on Mutation { %s } }" % fields) == 30
    assert weight("mutation { ... { ... on Mutation { %s } } }" % fields) == 30


def test_aliases_inside_named_fragments_on_the_root_each_count():
    document = """
    mutation { ...Many ...Many ...More }
    fragment Many on Mutation { a: %s b: %s }
    fragment More on Mutation { c: %s ...Many }
    """ % (CANCEL, CANCEL, CANCEL)
    assert weight(document) == 3  # a and b run once however often they are spread


def test_skipped_mutation_fields_are_not_charged():
    cancel = 'cancelReissue(reissueId: "rei_000000000000000000000000")'
    document = """mutation M($dry: Boolean!) {
        a: %s { userErrors { code } }
        b: %s @skip(if: $dry) { userErrors { code } }
        ... @include(if: $dry) { c: %s { userErrors { code } } }
        ...Later @skip(if: true)
    }
    fragment Later on Mutation { d: %s { userErrors { code } } }""" % (cancel, cancel, cancel, cancel)
    assert weight(document, {"dry": True}) == 2  # a and c
    assert weight(document, {"dry": False}) == 2  # a and b


def test_online_requests_weigh_what_their_key_costs_to_generate():
    assert weight("mutation { %s }" % online(keyAlgorithm="RSA", keyParameter='"4096"')) == ONLINE_KEY_WEIGHTS[("RSA", "4096")]
    assert weight("mutation { %s }" % online(keyAlgorithm="RSA", keyParameter='"3072"')) == ONLINE_KEY_WEIGHTS[("RSA", "3072")]
    assert weight("mutation { %s }" % online(keyAlgorithm="RSA", keyParameter='"2048"')) == ONLINE_KEY_WEIGHTS[("RSA", "2048")]
    assert weight("mutation { %s }" % online(keyAlgorithm="ECC", keyParameter='"secp384r1"')) == 1
    assert weight("mutation { %s }" % online(keyAlgorithm="ECC", keyParameter='"P-256"')) == 1
    # the algorithm alone: its first parameter, as the service chooses (R8)
    assert weight("mutation { %s }" % online(keyAlgorithm="RSA")) == ONLINE_KEY_WEIGHTS[("RSA", "2048")]
    assert weight("mutation { %s }" % online(keyAlgorithm="ECC")) == 1
    # a parameter alone names its algorithm
    assert weight("mutation { %s }" % online(keyParameter='"secp384r1"')) == 1
    assert weight("mutation { %s }" % online(keyParameter='"3072"')) == ONLINE_KEY_WEIGHTS[("RSA", "3072")]


def test_weights_grow_with_the_key_and_rsa_4096_is_clearly_the_heaviest():
    rsa = [ONLINE_KEY_WEIGHTS[("RSA", p)] for p in ("2048", "3072", "4096")]
    assert ONLINE_KEY_WEIGHTS[("ECC", "prime256v1")] <= ONLINE_KEY_WEIGHTS[("ECC", "secp384r1")] <= rsa[0]
    assert rsa[0] < rsa[1] < rsa[2] == HEAVIEST_ONLINE_WEIGHT
    assert rsa[2] >= 2 * rsa[1]
    # every key the service can generate has a weight of its own
    for algorithm, parameters in ALLOWED_PARAMETERS.items():
        if algorithm.value != "SM2":
            assert all((algorithm.value, p) in ONLINE_KEY_WEIGHTS for p in parameters)


def test_an_online_request_without_algorithm_or_parameter_is_charged_the_heaviest_key():
    assert weight("mutation { %s }" % online()) == HEAVIEST_ONLINE_WEIGHT
    assert weight("mutation { %s }" % online(keyParameter='"8192"')) == HEAVIEST_ONLINE_WEIGHT


def test_original_upload_and_default_csr_sources_weigh_one():
    assert weight("mutation { %s }" % online(csrSource="ORIGINAL", keyAlgorithm="RSA", keyParameter='"4096"')) == 1
    assert weight("mutation { %s }" % online(csrSource="UPLOAD")) == 1
    assert weight('mutation { requestReissue(input: {certificateId: "%s"}) { privateKeyPem } }' % CERT) == 1


def test_an_input_wholly_from_variables_is_weighed_by_its_values():
    document = "mutation R($input: RequestReissueInput!) { a: requestReissue(input: $input) { privateKeyPem } }"
    heavy = {"certificateId": CERT, "csrSource": "ONLINE", "keyAlgorithm": "RSA", "keyParameter": "4096"}
    assert weight(document, {"input": heavy}) == ONLINE_KEY_WEIGHTS[("RSA", "4096")]
    assert weight(document, {"input": {**heavy, "keyParameter": "3072"}}) == ONLINE_KEY_WEIGHTS[("RSA", "3072")]
    assert weight(document, {"input": {"certificateId": CERT}}) == 1
    assert weight(document, {"input": {"certificateId": CERT, "csrSource": "ONLINE"}}) == HEAVIEST_ONLINE_WEIGHT


def test_input_fields_from_variables_are_weighed_by_their_values():
    document = """mutation R($source: CsrSource, $alg: KeyAlgorithm, $size: String) {
        requestReissue(input: {certificateId: "%s", csrSource: $source, keyAlgorithm: $alg, keyParameter: $size}) {
            privateKeyPem } }""" % CERT
    assert weight(document, {"source": "ONLINE", "alg": "RSA", "size": "4096"}) == ONLINE_KEY_WEIGHTS[("RSA", "4096")]
    assert weight(document, {"source": "ONLINE", "alg": "ECC"}) == 1
    assert weight(document, {"source": "ONLINE"}) == HEAVIEST_ONLINE_WEIGHT
    assert weight(document, {"source": "ORIGINAL", "alg": "RSA", "size": "4096"}) == 1
    assert weight(document, {}) == 1  # csrSource: null is the default, ORIGINAL


def test_thirty_aliased_rsa_4096_requests_in_a_fragment_weigh_thirty_heavy_keys():
    heavy = online(keyAlgorithm="RSA", keyParameter='"4096"')
    fields = " ".join(f"a{i}: {heavy}" for i in range(30))
    document = "mutation { ...Keys } fragment Keys on Mutation { ... on Mutation { %s } }" % fields
    assert weight(document) == 30 * ONLINE_KEY_WEIGHTS[("RSA", "4096")]


def test_the_default_rate_limit_admits_a_few_of_the_heaviest_requests_per_minute():
    # An operation heavier than the whole limit can never run: the default must leave room.
    assert Settings().rate_limit_per_minute >= 3 * HEAVIEST_ONLINE_WEIGHT
