def test_pages_render(workspace, add_evidence, login_as):
    add_evidence("OPS-2/patches", days_ago=2)
    client = login_as(workspace.auditor)
    eid = workspace.engagement_id
    for url in [
        "/engagements",
        f"/engagements/{eid}/controls",
        f"/engagements/{eid}/measures",
        f"/engagements/{eid}/controls/8.8",
        f"/engagements/{eid}/controls/OPS-2",
        f"/engagements/{eid}/requests",
        f"/engagements/{eid}/requests/new",
        f"/engagements/{eid}/findings",
        f"/engagements/{eid}/findings/new",
        f"/engagements/{eid}/samples",
        "/findings",
    ]:
        r = client.get(url)
        assert r.status_code == 200, (url, r.text[:3000])
