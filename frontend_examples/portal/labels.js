// Every label the customer portal shows, in English and Chinese. A label may be a function of the
// values it names; a key missing in one language falls back to English. Each page's <title> is
// its "title_<page>" label.

export const LABELS = {
  en: {
    locale: "en-GB",
    portal: "Customer portal", home: "Home", signOut: "Sign out", myTickets: "My tickets",
    newRequest: "New request", helpCentre: "Help centre",
    title_home: "Customer portal", title_signIn: "Signing in", title_tickets: "My tickets",
    title_ticket: "Ticket", title_survey: "How did we do?", title_form: "Contact support",
    title_articles: "Help centre",

    // home: sign in by email
    homeLead: "Follow your requests, reply to our agents and rate the help you got.",
    signInHeading: "Sign in with your email", email: "Email", sendLink: "Email me a sign-in link",
    linkSent: (email) => `If ${email} belongs to one of our customers, a sign-in link is on its way. Check your mail: the link works once, for 15 minutes.`,
    noPassword: "No password needed: we email you a link that signs you in.",
    newRequestLead: "Not a customer yet, or a new question?", writeToUs: "Write to us",
    helpLead: "Many answers are already in the help centre.", browseArticles: "Browse articles",

    // sign-in.html
    signingIn: "Signing you in…", linkMissing: "This address has no sign-in link in it.",
    linkRefused: "This sign-in link has expired or was already used. Each link works once, for 15 minutes.",
    requestNew: "Send me a new link",

    // tickets.html
    ticketsLead: (name) => `Signed in as ${name}.`, noTickets: "You have no requests yet.",
    ticketsCount: (shown, total) => `${shown} of ${total} requests`, loadMore: "Load more",
    number: "No.", subject: "Subject", status: "Status", updated: "Last update",
    signInFirst: "Please sign in to see your requests.", signInAgain: "Your session has ended: please sign in again.",
    goSignIn: "Sign in",

    // ticket.html
    notFound: "Not found", notFoundLead: "There is no such request among yours.", backToTickets: "Back to my tickets",
    created: "Opened", resolvedAt: "Resolved", priority: "Priority", category: "Category",
    description: "Your request", conversation: "Conversation", noComments: "No replies yet.",
    you: "You", agent: "Support", reply: "Reply", send: "Send", attach: "Attach files",
    replySent: "Your reply was sent.", reopen: "Reopen this request", reopenReason: "Why is it not solved? (optional)",
    reopenLead: "Not solved after all?", reopened: "The request is open again.",
    rate: "Rate the help you got", ratingComment: "Comment (optional)", rateSend: "Send rating",
    rated: (score) => `You rated this ${score}/5.`, thanks: "Thank you!",
    live: "Live", connecting: "Connecting…", reconnecting: (s) => `Reconnecting in ${s}s`, closed: "Offline",
    closedFinal: "This request is closed. For something new, write to us again.",
    download: "Download",

    // survey.html
    surveyLead: "Your answers help us do better.", score: "Overall, how satisfied are you?",
    scoreHint: "1 = very unsatisfied, 5 = very satisfied", speed: "Speed", professionalism: "Professionalism",
    attitude: "Attitude", optional: "optional", comment: "Anything else you want to tell us?",
    submitSurvey: "Send", surveyThanks: "Thank you for your feedback.",
    surveyDuplicate: "This survey was already answered. Thank you!",
    surveyInvalid: "This survey link is not valid or has expired.", surveyMissing: "This address has no survey link in it.",
    notRated: "—",

    // form.html
    formLead: "Tell us what happened; we answer by email and you can follow the request here.",
    name: "Your name", subjectField: "Subject", descriptionField: "Describe the problem",
    categoryField: "Topic", category_: "Not sure", category_technical: "Technical problem",
    category_refund: "Refund", category_account: "Account", category_complaint: "Complaint",
    attachments: "Attachments", website: "Website", submit: "Send request",
    suggestionsHeading: "These articles may already answer your question",
    submitted: (n) => `Thank you. Your request number is #${n}. We have emailed you a confirmation with a link to follow it.`,
    submittedQuietly: "Thank you, your request was received.",
    fileTooMany: "At most 5 files.",
    chooseOption: "Choose…", requiredField: "Required",
    checkFields: "Please check the marked fields.",

    // articles.html
    searchArticles: "Search the help centre", search: "Search", noArticles: "No articles found.",
    helpful: "Was this helpful?", yes: "Yes", no: "No", thanksFeedback: "Thanks for the feedback.",
    backToArticles: "All articles",

    NEW: "Received", OPEN: "In progress", PENDING: "Waiting for you", ON_HOLD: "On hold",
    RESOLVED: "Resolved", CLOSED: "Closed",
    LOW: "Low", NORMAL: "Normal", HIGH: "High", URGENT: "Urgent",
    failed: "Something went wrong", retry: "Please try again.",
  },
  zh: {
    locale: "zh-CN",
    portal: "客户服务中心", home: "首页", signOut: "退出", myTickets: "我的工单",
    newRequest: "提交问题", helpCentre: "帮助中心",
    title_home: "客户服务中心", title_signIn: "正在登录", title_tickets: "我的工单",
    title_ticket: "工单", title_survey: "满意度调查", title_form: "联系客服",
    title_articles: "帮助中心",

    homeLead: "随时查看工单处理进度、回复客服，并为服务打分。",
    signInHeading: "用邮箱登录", email: "邮箱", sendLink: "发送登录链接",
    linkSent: (email) => `如果 ${email} 是我们的客户邮箱，登录链接已发出。请查收邮件：链接 15 分钟内有效，仅可使用一次。`,
    noPassword: "无需密码：我们会把登录链接发到您的邮箱。",
    newRequestLead: "还不是客户，或有新问题？", writeToUs: "提交问题",
    helpLead: "很多问题在帮助中心已有答案。", browseArticles: "浏览文章",

    signingIn: "正在登录…", linkMissing: "此地址中没有登录链接。",
    linkRefused: "此登录链接已过期或已被使用。每个链接 15 分钟内有效，仅可使用一次。",
    requestNew: "重新发送登录链接",

    ticketsLead: (name) => `当前登录：${name}`, noTickets: "您还没有工单。",
    ticketsCount: (shown, total) => `显示 ${shown} / 共 ${total} 张工单`, loadMore: "加载更多",
    number: "编号", subject: "主题", status: "状态", updated: "最近更新",
    signInFirst: "请先登录查看您的工单。", signInAgain: "登录已失效，请重新登录。", goSignIn: "去登录",

    notFound: "未找到", notFoundLead: "您的工单中没有这一张。", backToTickets: "返回我的工单",
    created: "提交时间", resolvedAt: "解决时间", priority: "优先级", category: "类别",
    description: "问题描述", conversation: "对话", noComments: "暂无回复。",
    you: "我", agent: "客服", reply: "回复", send: "发送", attach: "添加附件",
    replySent: "回复已发送。", reopen: "重新打开工单", reopenReason: "为什么问题没有解决？（选填）",
    reopenLead: "问题没有解决？", reopened: "工单已重新打开。",
    rate: "为本次服务打分", ratingComment: "评价（选填）", rateSend: "提交评分",
    rated: (score) => `您的评分：${score}/5。`, thanks: "谢谢！",
    live: "实时", connecting: "连接中…", reconnecting: (s) => `${s} 秒后重连`, closed: "离线",
    closedFinal: "此工单已关闭。如有新问题，请重新提交。",
    download: "下载",

    surveyLead: "您的反馈帮助我们改进服务。", score: "总体满意度",
    scoreHint: "1 = 非常不满意，5 = 非常满意", speed: "速度", professionalism: "专业度",
    attitude: "态度", optional: "选填", comment: "还有什么想告诉我们的？",
    submitSurvey: "提交", surveyThanks: "感谢您的反馈。",
    surveyDuplicate: "此调查已经提交过了，谢谢！",
    surveyInvalid: "此调查链接无效或已过期。", surveyMissing: "此地址中没有调查链接。",
    notRated: "—",

    formLead: "请描述您遇到的问题；我们会通过邮件答复，您也可以在这里查看进度。",
    name: "您的姓名", subjectField: "主题", descriptionField: "问题描述",
    categoryField: "问题类型", category_: "不确定", category_technical: "技术问题",
    category_refund: "退款", category_account: "账户", category_complaint: "投诉",
    attachments: "附件", website: "网站", submit: "提交",
    suggestionsHeading: "以下文章也许能解答您的问题",
    submitted: (n) => `谢谢！您的工单编号是 #${n}。确认邮件已发出，其中有查看进度的链接。`,
    submittedQuietly: "谢谢，我们已收到您的问题。",
    fileTooMany: "最多 5 个文件。",
    chooseOption: "请选择…", requiredField: "必填",
    checkFields: "请检查标出的字段。",

    searchArticles: "搜索帮助中心", search: "搜索", noArticles: "没有找到文章。",
    helpful: "这篇文章有帮助吗？", yes: "有", no: "没有", thanksFeedback: "感谢反馈。",
    backToArticles: "全部文章",

    NEW: "已受理", OPEN: "处理中", PENDING: "等待您的回复", ON_HOLD: "暂挂",
    RESOLVED: "已解决", CLOSED: "已关闭",
    LOW: "低", NORMAL: "普通", HIGH: "高", URGENT: "紧急",
    failed: "出错了", retry: "请重试。",
  },
};
